"""The readings store: register and interval values per meter, quantity and time."""
