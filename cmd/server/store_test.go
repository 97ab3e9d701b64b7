package main

import "github.com/fibergate/fibergate/internal/storage/storagetest"

// A backend written against storagetest.Backend can be wired as the server's store.
var _ store = storagetest.Backend(nil)
