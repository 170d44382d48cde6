package apply

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestTransientWebhookErrors(t *testing.T) {
	for msg, want := range map[string]bool{
		// A webhook registered before its pods serve (seen after an operator
		// install and after a controller restart).
		`Internal error occurred: failed calling webhook "webhook.serving.knative.dev": failed to call webhook: Post "https://webhook.knative-serving.svc:443/?timeout=10s": no endpoints available for service "webhook"`:                                                   true,
		`Internal error occurred: failed calling webhook "inferenceservice.kserve-webhook-server.validator": failed to call webhook: Post "https://kserve-webhook-server-service.kserve.svc:443/validate?timeout=10s": dial tcp 10.96.12.7:443: connect: connection refused`: true,
		`Internal error occurred: failed calling webhook "webhook.cert-manager.io": failed to call webhook: Post "https://cert-manager-webhook.cert-manager.svc:443/validate?timeout=30s": tls: failed to verify certificate: x509: certificate signed by unknown authority`: true,
		`Internal error occurred: failed calling webhook "x": failed to call webhook: Post "https://x.y.svc:443/": EOF`:                                                                                                                                                      true,
		// A webhook that answered: a verdict, never retried.
		`admission webhook "validation.istio.io" denied the request: configuration is invalid: mtls mode STRICTT is not supported`: false,
		`admission webhook "validate.kserve.io" denied the request: connection refused is not a valid storageUri`:                  false,
		// Not a webhook at all.
		`the server could not find the requested resource`:      false,
		`Post "https://127.0.0.1:6443/api": connection refused`: false,
	} {
		assert.Equal(t, want, Transient(errors.New(msg)), msg)
	}
	assert.False(t, Transient(nil))
}
