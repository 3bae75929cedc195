"""The Gradio chat page (issue: chat page)."""
