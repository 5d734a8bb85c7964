package org.sockmap4j.recipes;

import java.net.InetAddress;

import org.junit.jupiter.api.Test;
import org.sockmap4j.Cidr;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

/** BypassScope parsing and the tables it gives the program (no kernel needed). */
class BypassScopeTest {
    @Test
    void allAllowsEveryPortAndAddress() {
        BypassScope all = BypassScope.all();
        assertThat(all.restrictsPorts()).isFalse();
        assertThat(all.allowsPort(1)).isTrue();
        assertThat(all.cidrs()).isEmpty();
        assertThat(all.portWords()).containsOnly(0);
        assertThat(all).hasToString("all");
    }

    @Test
    void portsAndRangesBecomeTheProgramsBitmap() {
        BypassScope s = BypassScope.all().ports(" 6379, 8000-8100 ,65535");
        assertThat(s.allowsPort(6379)).isTrue();
        assertThat(s.allowsPort(8000)).isTrue();
        assertThat(s.allowsPort(8100)).isTrue();
        assertThat(s.allowsPort(8101)).isFalse();
        assertThat(s.allowsPort(6380)).isFalse();
        int[] w = s.portWords();
        assertThat(w).hasSize(2048);
        assertThat(w[6379 / 32] & (1 << (6379 % 32))).isNotZero();
        assertThat(w[65535 / 32] >>> 31).isEqualTo(1);
        assertThat(Integer.bitCount(w[8000 / 32]) + Integer.bitCount(w[8100 / 32])).isPositive();
        int bits = 0;
        for (int x : w) {
            bits += Integer.bitCount(x);
        }
        assertThat(bits).isEqualTo(1 + 101 + 1);
        assertThat(s.portList()).isEqualTo("6379,8000-8100,65535");
        assertThat(s).isEqualTo(BypassScope.all().ports(6379, 65535).ports("6379,8000-8100,65535"));
    }

    @Test
    void badPortListsAreRefusedWithTheReason() {
        assertThatIllegalArgumentException().isThrownBy(() -> BypassScope.all().ports("0"))
                .withMessageContaining("bad port '0'");
        assertThatIllegalArgumentException().isThrownBy(() -> BypassScope.all().ports("80,,81"))
                .withMessageContaining("bad port ''");
        assertThatIllegalArgumentException().isThrownBy(() -> BypassScope.all().ports("9000-8000"))
                .withMessageContaining("ends before it starts");
        assertThatIllegalArgumentException().isThrownBy(() -> BypassScope.all().ports("http"))
                .withMessageContaining("bad port 'http'");
        assertThatIllegalArgumentException().isThrownBy(() -> BypassScope.all().ports(""))
                .withMessageContaining("empty port list");
        assertThatIllegalArgumentException().isThrownBy(() -> BypassScope.all().ports(70000))
                .withMessageContaining("1..65535");
    }

    @Test
    void cidrsReplaceEachOtherAndKeepThePorts() {
        BypassScope s = BypassScope.all().ports(80).cidrs("10.0.0.0/24", "2001:db8::/64", "10.0.0.0/24");
        assertThat(s.cidrs()).extracting(Cidr::toString).containsExactly("10.0.0.0/24", "2001:db8:0:0:0:0:0:0/64");
        assertThat(s.allowsPort(80)).isTrue();
        assertThat(s.anyAddress().cidrs()).isEmpty();
        assertThat(s.anyPort().restrictsPorts()).isFalse();
        assertThatIllegalArgumentException().isThrownBy(() -> s.cidrs("10.0.0/24"))
                .withMessage("bad CIDR '10.0.0/24': not an IP address (IPv4 needs four dotted numbers, e.g. 192.0.2.0/24)");
    }

    @Test
    void cidrContainsWhatItsPrefixCovers() throws Exception {
        Cidr c = Cidr.parse("10.0.0.0/23");
        assertThat(c.contains(InetAddress.getByName("10.0.1.255"))).isTrue();
        assertThat(c.contains(InetAddress.getByName("10.0.2.0"))).isFalse();
        assertThat(c.contains(InetAddress.getByName("::1"))).isFalse();
        assertThat(Cidr.parse("0.0.0.0/0").contains(InetAddress.getByName("192.0.2.1"))).isTrue();
        assertThatIllegalArgumentException().isThrownBy(() -> Cidr.parse("::/129"))
                .withMessage("bad CIDR '::/129': prefix length must be 0..128");
    }
}
