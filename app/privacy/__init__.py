"""Privacy settings: who may find, add, message and see a user."""
