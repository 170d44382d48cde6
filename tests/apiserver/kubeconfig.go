package apiserver

import (
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// WriteKubeconfig writes a kubeconfig for the server into its directory and
// returns the path: the Helm SDK, like kubectl, takes a kubeconfig.
func (s *Server) WriteKubeconfig() (string, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["apiserver-tier"] = &clientcmdapi.Cluster{Server: s.Config.Host, InsecureSkipTLSVerify: true}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: s.Config.BearerToken}
	cfg.Contexts["apiserver-tier"] = &clientcmdapi.Context{Cluster: "apiserver-tier", AuthInfo: "admin"}
	cfg.CurrentContext = "apiserver-tier"
	path := filepath.Join(s.dir, "kubeconfig")
	return path, clientcmd.WriteToFile(*cfg, path)
}
