"""`rag eval`: retrieval, answer, citation, refusal and latency metrics on QA sets."""
