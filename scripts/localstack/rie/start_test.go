package rie_test

import (
	"net"
	"testing"

	"handoff/scripts/localstack/rie"
)

// An emulator counts as started only once it listens itself on both of its addresses. A port
// another process took between our choosing it and the emulator binding it makes the emulator
// panic and exit: a connect to that port reaches the other process and proves nothing, and an
// invocation sent then is reset when the emulator dies. Test failed before the fix (a squatter
// on the invocation port passed for the emulator).
func TestStartedMeansTheEmulatorItselfListens(t *testing.T) {
	cfg := rie.Config{Name: "fn", Binary: binary, Emulator: emulator}
	free := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	squat := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() { // accept and hold, as a live server would
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				t.Cleanup(func() { c.Close() })
			}
		}()
		return ln.Addr().String()
	}
	if err := rie.StartOn(cfg, free(), free()); err != nil {
		t.Fatalf("on two free ports: %v", err)
	}
	if err := rie.StartOn(cfg, squat(), free()); err == nil {
		t.Error("started with another process listening on the invocation port")
	}
	if err := rie.StartOn(cfg, free(), squat()); err == nil {
		t.Error("started with another process listening on the Runtime API port")
	}
}
