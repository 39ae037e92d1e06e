// How a Hadoop daemon resolves names, run with `java Resolve.java NAMESERVER SELF FQDN=IP...`
// (source-launch, no build tool). Prints one line per check; exits 1 when any disagrees.
//  - InetAddress.getByName(fqdn): the forward lookup every client makes;
//  - InetAddress.getByName(ip).getCanonicalHostName(): the reverse lookup servers make of peers;
//  - a JNDI "dns:" PTR query against a given nameserver, as Hadoop's
//    org.apache.hadoop.net.DNS.reverseDns does (the answer keeps its trailing dot);
//  - InetAddress.getLocalHost().getCanonicalHostName(): the name a daemon registers itself by.
import java.net.InetAddress;
import java.net.UnknownHostException;
import javax.naming.NamingException;
import javax.naming.directory.Attribute;
import javax.naming.directory.InitialDirContext;

public class Resolve {
    private static int mismatches = 0;

    public static void main(String[] args) throws Exception {
        String nameserver = args[0];
        check("self", args[1], canonical(InetAddress.getLocalHost()));
        InitialDirContext dns = new InitialDirContext();
        for (int i = 2; i < args.length; i++) {
            String[] pair = args[i].split("=", 2);
            String fqdn = pair[0];
            String ip = pair[1];
            check("forward " + fqdn, ip, forward(fqdn));
            check("reverse " + ip, fqdn, canonical(InetAddress.getByName(ip)));
            String[] o = ip.split("\\.");
            String arpa = o[3] + "." + o[2] + "." + o[1] + "." + o[0] + ".in-addr.arpa";
            check("jndi PTR " + arpa, fqdn + ".", ptr(dns, nameserver, arpa));
        }
        System.exit(mismatches == 0 ? 0 : 1);
    }

    private static String forward(String name) {
        try {
            return InetAddress.getByName(name).getHostAddress();
        } catch (UnknownHostException e) {
            return "(unknown host)";
        }
    }

    private static String canonical(InetAddress address) {
        return address.getCanonicalHostName();
    }

    private static String ptr(InitialDirContext dns, String nameserver, String arpa) {
        try {
            Attribute answer = dns.getAttributes(
                "dns://" + nameserver + "/" + arpa, new String[] {"PTR"}).get("PTR");
            return answer == null ? "(no PTR)" : answer.get().toString();
        } catch (NamingException e) {
            return "(" + e.getClass().getSimpleName() + ")";
        }
    }

    private static void check(String what, String want, String got) {
        if (want.equals(got)) {
            System.out.println("ok " + what + ": " + got);
        } else {
            mismatches++;
            System.out.println("MISMATCH " + what + ": want " + want + ", got " + got);
        }
    }
}
