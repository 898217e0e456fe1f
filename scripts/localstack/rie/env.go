package rie

import (
	"crypto/rand"
	"encoding/hex"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"time"
)

// Reserved are the variables Lambda sets in a function's environment for provided.al2023
// (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime),
// plus the ones the emulator adds (the Runtime API, its metadata endpoint, the trace ID) and
// AWS_LAMBDA_FUNCTION_TIMEOUT, the emulator's own setting. A function may read them without
// declaring them.
var Reserved = []string{
	"_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION",
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
	"AWS_LAMBDA_FUNCTION_TIMEOUT", "AWS_LAMBDA_INITIALIZATION_TYPE",
	"AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
	"AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_METADATA_API", "AWS_LAMBDA_METADATA_TOKEN",
	"LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "TZ", "LANG", "PATH", "LD_LIBRARY_PATH",
}

// environment is the emulator's environment, which it hands on to the bootstrap whole: the
// function's variables, then Lambda's reserved ones, which the function cannot override.
// Nothing is inherited from the stack's own environment, as nothing is in Lambda: a
// developer's AWS_PROFILE never reaches a function.
func environment(cfg Config) []string {
	env := map[string]string{}
	for name, value := range cfg.Env {
		env[name] = value
	}
	taskRoot := filepath.Dir(cfg.Binary)
	for name, value := range map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        cfg.Name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(cfg.MemorySize),
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     strconv.Itoa(int(math.Ceil(cfg.Timeout.Seconds()))),
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + cfg.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME":      logStreamName(),
		"AWS_REGION":                      cfg.Region,
		"AWS_DEFAULT_REGION":              cfg.Region,
		"AWS_ACCESS_KEY_ID":               cfg.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":           cfg.SecretAccessKey,
		"AWS_SESSION_TOKEN":               cfg.SessionToken,
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
