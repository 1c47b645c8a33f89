"""Signed links, click and unsubscribe endpoints, bot filtering, hot clicks (later issue)."""
