"""Router passwords at rest: the key file and its encryption (box), and setting up, replacing and
rotating that key over every stored password (keys), and the key derived from it that signs queue
messages, read again as the file changes (signing)."""
