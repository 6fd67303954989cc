package integration

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/controllers"
	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/provider"
)

var _ = Describe("The token sweep", func() {
	It("revokes this cluster's tokens that no DNSCredential references once they are old enough, and nothing else", func() {
		label := uniq("sweep") + ".example.io/dns"
		scope := tenantScope(uniq("swept"), label)
		createScope(scope)
		waitReady(scope, v1alpha1.ConditionReady)
		ns := uniq("team")
		tenantNamespace(ns, map[string]string{label: "true"})
		c := newClaim(ns, "web", scope.Name, rec("_acme-challenge."+ns+".apps.example.com", v1alpha1.RecordTypeTXT))
		Expect(k8s.Create(ctx, c)).To(Succeed())
		live, st := secretToken(ns, scope.Name+"-dns-credentials")

		// A token this cluster minted whose Secret write never happened (the
		// process died), one of another cluster, and one made by hand.
		policy := []sim.Policy{{Effect: "allow", PermissionGroupIDs: []string{sim.PermZoneRead, sim.PermDNSWrite},
			Resources: map[string]any{"com.cloudflare.api.account.zone." + cf.ZoneID("example.com"): "*"}}}
		leaked, _, err := cf.MintToken(sim.TokenSpec{Name: provider.TokenName("it", scope.Name, "ghost", "1"), Policies: policy})
		Expect(err).NotTo(HaveOccurred())
		foreign, _, err := cf.MintToken(sim.TokenSpec{Name: provider.TokenName("other-cluster", scope.Name, "ghost", "1"), Policies: policy})
		Expect(err).NotTo(HaveOccurred())
		manual, _, err := cf.MintToken(sim.TokenSpec{Name: "ci-pipeline", Policies: policy})
		Expect(err).NotTo(HaveOccurred())

		sweeper := &controllers.TokenSweeper{
			Client: k8s, ClusterName: "it", MinAge: 10 * time.Minute, Now: clock.Now,
			Providers: &controllers.SecretProviders{Reader: k8s, Namespace: operatorNamespace},
		}
		tokenIDs := func() map[string]bool {
			ids := map[string]bool{}
			for _, t := range cf.Tokens() {
				ids[t.ID] = true
			}
			return ids
		}
		// Other specs may leave tokens of this cluster for the sweep (the
		// suite shares one simulator and one clock): count only this spec's.
		_, err = sweeper.Sweep(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(tokenIDs()).To(HaveKey(leaked.ID), "a token younger than the minimum age may be a mint whose Secret write is in flight")

		clock.Advance(11 * time.Minute)
		_, err = sweeper.Sweep(ctx)
		Expect(err).NotTo(HaveOccurred())
		ids := tokenIDs()
		Expect(ids).NotTo(HaveKey(leaked.ID), "the unreferenced token of this cluster is revoked")
		Expect(ids).To(HaveKey(foreign.ID), "another cluster's token is not ours to revoke")
		Expect(ids).To(HaveKey(manual.ID), "a token scopedns did not mint is never touched")
		Expect(ids).To(HaveKey(st.Token.ID), "a token a DNSCredential references stays")
		Expect(writeTXT(live, "example.com", "_acme-challenge."+ns+".apps.example.com")).To(Succeed())
	})
})
