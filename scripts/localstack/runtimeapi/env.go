package runtimeapi

import (
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"sort"
	"strconv"
	"time"
)

// environment is a process's environment: the function's variables, then the ones Lambda
// reserves, which the function cannot override. Nothing is inherited from the stack's own
// environment, as nothing is in Lambda: a developer's AWS_PROFILE never reaches a function.
func environment(cfg Config, runtimeAPI string) []string {
	env := map[string]string{}
	for name, value := range cfg.Env {
		env[name] = value
	}
	taskRoot := filepath.Dir(cfg.Binary)
	for name, value := range map[string]string{
		"AWS_LAMBDA_RUNTIME_API":          runtimeAPI,
		"AWS_LAMBDA_FUNCTION_NAME":        cfg.Name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(cfg.MemorySize),
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + cfg.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME":      logStreamName(),
		"AWS_REGION":                      cfg.Region,
		"AWS_DEFAULT_REGION":              cfg.Region,
		"_HANDLER":                        cfg.Handler,
		"LAMBDA_TASK_ROOT":                taskRoot,
		"LAMBDA_RUNTIME_DIR":              taskRoot,
		"TZ":                              ":UTC",
		"LANG":                            "en_US.UTF-8",
		"PATH":                            "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
	} {
		env[name] = value
	}
	out := make([]string, 0, len(env))
	for name, value := range env {
		out = append(out, name+"="+value)
	}
	sort.Strings(out)
	return out
}

// logStreamName looks like Lambda's: 2025/01/31/[$LATEST]<32 hex digits>.
func logStreamName() string {
	var b [16]byte
	rand.Read(b[:])
	return time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + hex.EncodeToString(b[:])
}
