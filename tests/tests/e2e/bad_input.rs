//! End-to-end tests: a table of bad input over HTTP; each case must get a 4xx, a JSON error and leave the tree unchanged.
