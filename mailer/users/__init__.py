"""People who sign in to the web desks: marketing and sales managers."""
