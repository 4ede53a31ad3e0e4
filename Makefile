# The two entry points a new user needs; both install what they use.
.PHONY: up test

up:
	scripts/up

test:
	scripts/test
