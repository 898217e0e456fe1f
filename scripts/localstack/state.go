package main

import (
	"encoding/json"
	"os"
	"path/filepath"

	"handoff/scripts/localstack/template"
)

// LocalState is what a running local stack tells other commands (scripts/handoffctl --local)
// about itself: where its gateway and its local AWS (moto, through the gate) listen, and the
// names the functions use. It is written to StateFile while the stack runs.
type LocalState struct {
	URL         string `json:"url"`
	AWSEndpoint string `json:"awsEndpoint"`
	// EventBridgeEndpoint is the local EventBridge (PutEvents), as the functions get it.
	EventBridgeEndpoint string `json:"eventBridgeEndpoint"`
	Region              string `json:"region"`
	Table               string `json:"table"`
	SecretPrefix        string `json:"secretPrefix"`
	EventBus            string `json:"eventBus"`
	DeadLetters         string `json:"deadLetters"`
}

// StateFile is where, under the repository root, a running stack writes its LocalState.
const StateFile = "build/localstack/stack.json"

// writeState writes the state file and returns a func that removes it.
func writeState(root string, st LocalState, tmpl *template.Template) (func(), error) {
	for _, f := range tmpl.Functions {
		if v := f.Environment["TABLE_NAME"]; v != "" && st.Table == "" {
			st.Table = v
		}
		if v := f.Environment["SECRET_PREFIX"]; v != "" && st.SecretPrefix == "" {
			st.SecretPrefix = v
		}
		if v := f.Environment["EVENT_BUS_NAME"]; v != "" && st.EventBus == "" {
			st.EventBus = v
		}
	}
	// Absolute, so that the command reading it may run from any directory.
	if abs, err := filepath.Abs(st.DeadLetters); err == nil {
		st.DeadLetters = abs
	}
	path := filepath.Join(root, StateFile)
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	return func() { os.Remove(path) }, nil
}
