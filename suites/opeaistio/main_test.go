package opeaistio

import (
	"testing"

	"github.com/secure-inference/mesh-conformance/tests/harness"
)

func TestMain(m *testing.M) { harness.Main(m, &Suite) }

func TestOPEAIstio(t *testing.T) { harness.Features(t, &Suite) }
