"""GraphQL over HTTP and websockets: the view and its options, limits, cost, persisted queries,
response cache."""
