"""User QR codes: opaque, unguessable tokens that lead to a user's card."""
