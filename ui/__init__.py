"""The Gradio chat page of rag-zh."""
