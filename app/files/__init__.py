"""Files: uploads (tus, PUT, multipart), storage sources, validation, access, lifecycle."""
