// Creates or updates one SCRAM-SHA-512 user through the Admin API:
//   java -cp "<kafka jars>/*" ScramUser.java BOOTSTRAP NAME PASSWORD
// The local stack runs it (Java's single-file source launch) only for a data folder formatted
// before the SASL_SSL listener existed; a fresh one gets the user at format time.
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;

public class ScramUser {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        try (Admin admin = Admin.create(props)) {
            ScramCredentialInfo info = new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192);
            admin.alterUserScramCredentials(
                    List.of(new UserScramCredentialUpsertion(args[1], info, args[2])))
                .all().get();
        }
    }
}
