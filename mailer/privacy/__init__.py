"""Personal data on request: erasing a contact and keeping its address out for good."""
