"""topicstance: topics and stance for news segments."""
