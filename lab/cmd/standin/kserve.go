package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// KServe's two containers in a predictor pod that the lab cannot build (its
// Python images), as KServe v0.20.0 starts them:
//   - the storage initializer, an init container KServe's pod mutator adds
//     with the arguments <storageUri> <mount path> (pkg/webhook/admission/pod
//     storage_initializer_injector.go): it writes a model file where the
//     model server will read it, and fetches nothing;
//   - the sklearn runtime's kserve-container, started with the
//     ClusterServingRuntime's arguments --model_name={{.Name}}
//     --model_dir=/mnt/models --http_port=8080 (config/runtimes
//     kserve-sklearnserver.yaml): it refuses to start without the file, so
//     a pod that skipped the initializer fails, and then answers KServe's V1
//     protocol on the port, as the stand-in does elsewhere.

// modelFile is the file the storage initializer stand-in writes.
const modelFile = "model.joblib"

// initStorage writes the model file into dest, naming its source.
func initStorage(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("storage initializer: want <storageUri> <dest>, as KServe's pod mutator passes them; got %q", args)
	}
	src, dest := args[0], args[1]
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	body := fmt.Sprintf("lab stand-in model for %s, written %s\n", src, time.Now().UTC().Format(time.RFC3339))
	return os.WriteFile(filepath.Join(dest, modelFile), []byte(body), 0o644)
}

// checkModelDir is the runtime's start: the model the initializer wrote.
func checkModelDir(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, modelFile)); err != nil {
		return fmt.Errorf("model server: no model in %s (did the storage initializer run?): %w", dir, err)
	}
	return nil
}
