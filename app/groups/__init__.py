"""Groups: a group is a channel of kind "group" (its id is the group id) with roles,
settings, moderation, join requests and QR codes."""
