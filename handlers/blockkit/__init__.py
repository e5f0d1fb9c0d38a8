"""Block Kit: the request card, private replies, modals and forms, and how each notice renders."""
