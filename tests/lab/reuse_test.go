package lab

import (
	"time"

	"github.com/secure-inference/mesh-conformance/tests/cluster"
)

func kindForReuse() *cluster.Kind { return cluster.NewKind(clusterName, "", time.Minute, logf) }
