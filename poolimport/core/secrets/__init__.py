"""Router passwords at rest: the key file and its encryption (box), and setting up, replacing and
rotating that key over every stored password (keys)."""
