package rie

import "io"

// StartOn starts one emulator of cfg on the given invocation and Runtime API addresses, as
// Start does on ports it chose, and stops it again: the error is whether it counted as started.
func StartOn(cfg Config, invokeAddr, runtimeAddr string) error {
	inst, err := startOn(cfg.withDefaults(), &lineOutput{w: io.Discard}, invokeAddr, runtimeAddr)
	if err == nil {
		inst.stop()
	}
	return err
}
