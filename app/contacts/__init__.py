"""The social graph: friend requests, friendships, the blacklist, shared cards, and the
policy every search, request and message goes through."""
