"""GraphQL over HTTP and websockets: the view, limits, cost, persisted queries, response cache."""
