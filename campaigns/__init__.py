"""The annual campaign calendar: campaigns, date rules, a year of letters paced by hand."""
