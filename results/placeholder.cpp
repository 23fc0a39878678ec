// Temporary: keeps the library non-empty until its first real source lands. Delete when adding one.
