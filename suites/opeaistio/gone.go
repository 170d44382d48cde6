package opeaistio

import (
	"context"
	"fmt"
	"time"

	"github.com/secure-inference/mesh-conformance/tests/harness"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/secure-inference/mesh-conformance/tests/apply"
)

// gone waits (bounded) until every object is deleted.
func gone(ctx context.Context, e *harness.Env, objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		ri, err := e.Apply.Resource(o)
		if err != nil {
			return err
		}
		err = wait.PollUntilContextTimeout(ctx, time.Second, e.Opts.Timeouts.ReadyTimeout, true, func(ctx context.Context) (bool, error) {
			_, err := ri.Get(ctx, o.GetName(), metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
		if err != nil {
			return fmt.Errorf("%s still exists after delete", apply.Describe(o))
		}
	}
	return nil
}
