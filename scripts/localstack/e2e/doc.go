// Package e2e holds Handoff's end-to-end tests: the stack `make run` starts (moto, the vendor
// sandboxes, the four functions built as for Lambda behind the local gateway, bus and stream),
// driven only over HTTP, as a user would. It has no code of its own; see its _test files.
package e2e
