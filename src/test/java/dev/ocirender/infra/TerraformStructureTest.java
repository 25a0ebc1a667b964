package dev.ocirender.infra;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Structural checks of {@code terraform/}: the wiring between modules, variables and outputs, and
 * the security properties the issue asks for (the job runs as the worker account, no storage role
 * at project level, no keys, uniform bucket access, pinned providers).
 *
 * <p>These stand in for {@code terraform validate}, which needs provider downloads that this
 * machine cannot make. They read the code with {@link Hcl}, a purpose-built reader of blocks,
 * attributes and references, not a full HCL parser: they prove the structure, not that the provider
 * accepts every argument. {@code terraform fmt -check} (in .ci/run) covers the syntax.
 */
class TerraformStructureTest {

  static final Path ROOT = Path.of("terraform");
  static final Path METADATA = Path.of("pipelines", "catalog-render", "template", "metadata.json");
  /** Module-call arguments that are Terraform's own, not variables of the module. */
  static final Set<String> META_ARGUMENTS = Set.of("source", "version", "count", "for_each", "depends_on", "providers");

  static Map<Path, Hcl.Module> modules = new LinkedHashMap<>();

  @BeforeAll
  static void read() throws IOException {
    try (Stream<Path> s = Files.walk(ROOT)) {
      for (Path dir : s.filter(Files::isDirectory).sorted().toList()) {
        try (Stream<Path> files = Files.list(dir)) {
          if (files.anyMatch(f -> f.toString().endsWith(".tf"))) {
            modules.put(dir.normalize(), Hcl.module(dir));
          }
        }
      }
    }
    assertThat(modules.keySet()).extracting(Path::toString).contains(
        "terraform/environments/example", "terraform/modules/buckets", "terraform/modules/worker-identity",
        "terraform/modules/artifact-registry", "terraform/modules/project-services", "terraform/modules/flex-template-job");
  }

  static Hcl.Module module(String dir) {
    return modules.get(ROOT.resolve(dir).normalize());
  }

  /** Every module call of {@code caller}, with the module it calls. */
  static Map<Hcl.Block, Hcl.Module> calls(Hcl.Module caller) {
    Map<Hcl.Block, Hcl.Module> out = new LinkedHashMap<>();
    for (Hcl.Block call : caller.blocks("module")) {
      String source = unquote(call.body().attribute("source").orElseThrow());
      Hcl.Module callee = modules.get(caller.dir().resolve(source).normalize());
      assertThat(callee).as("module %s: source %s is a module of this repository", call.label(0), source).isNotNull();
      out.put(call, callee);
    }
    return out;
  }

  @Test
  void everyVariableUsed_isDeclared_andEveryDeclaredOneIsUsed() {
    modules.forEach((dir, m) -> {
      assertThat(m.variables()).as("variables declared in %s", dir).containsAll(m.references("var"));
      assertThat(m.references("var")).as("variables used in %s", dir).containsAll(m.variables());
      Set<String> locals = new TreeSet<>();
      m.blocks("locals").forEach(b -> locals.addAll(b.body().attributes().keySet()));
      assertThat(locals).as("locals declared in %s", dir).containsAll(m.references("local"));
    });
  }

  @Test
  void everyVariableAndOutput_isDocumented() {
    modules.forEach((dir, m) -> {
      for (String type : List.of("variable", "output")) {
        for (Hcl.Block b : m.blocks(type)) {
          assertThat(b.body().attribute("description").map(TerraformStructureTest::unquote).orElse(""))
              .as("description of %s %s in %s", type, b.label(0), dir).hasSizeGreaterThan(10);
        }
      }
      for (Hcl.Block v : m.blocks("variable")) {
        assertThat(v.body().attribute("type")).as("type of variable %s in %s", v.label(0), dir).isPresent();
      }
    });
  }

  @Test
  void everyModuleCall_passesDeclaredVariables_andEveryRequiredOne() {
    modules.forEach((dir, caller) -> calls(caller).forEach((call, callee) -> {
      Set<String> passed = new TreeSet<>(call.body().attributes().keySet());
      passed.removeAll(META_ARGUMENTS);
      assertThat(callee.variables()).as("module %s in %s: arguments are variables of %s", call.label(0), dir, callee.dir())
          .containsAll(passed);
      for (Hcl.Block v : callee.blocks("variable")) {
        if (v.body().attribute("default").isEmpty()) {
          assertThat(passed).as("module %s in %s passes required variable %s", call.label(0), dir, v.label(0))
              .contains(v.label(0));
        }
      }
    }));
  }

  @Test
  void everyModuleOutputUsed_isDeclaredByThatModule() {
    Pattern ref = Pattern.compile("(?<![\\w.])module\\.([\\w-]+)(?:\\[[^\\]]*\\])?\\.([\\w-]+)");
    modules.forEach((dir, caller) -> {
      Map<String, Hcl.Module> byName = new LinkedHashMap<>();
      calls(caller).forEach((call, callee) -> byName.put(call.label(0), callee));
      Matcher m = ref.matcher(caller.text());
      while (m.find()) {
        assertThat(byName).as("module %s used in %s", m.group(1), dir).containsKey(m.group(1));
        assertThat(byName.get(m.group(1)).outputs()).as("outputs of module %s", m.group(1)).contains(m.group(2));
      }
    });
  }

  @Test
  void renderJob_runsAsTheWorkerServiceAccount() {
    Hcl.Module job = module("modules/flex-template-job");
    List<Hcl.Block> jobs = job.resources("google_dataflow_flex_template_job");
    assertThat(jobs).hasSize(1);
    assertThat(jobs.get(0).body().attribute("service_account_email")).hasValue("var.service_account_email");

    Hcl.Module worker = module("modules/worker-identity");
    assertThat(worker.resources("google_service_account")).hasSize(1);
    String account = "google_service_account." + worker.resources("google_service_account").get(0).label(1);
    Hcl.Block email = worker.blocks("output").stream().filter(o -> o.label(0).equals("email")).findFirst().orElseThrow();
    assertThat(email.body().attribute("value")).hasValue(account + ".email");

    Hcl.Module env = module("environments/example");
    Map<Hcl.Block, Hcl.Module> calls = calls(env);
    String workerCall = calls.entrySet().stream().filter(e -> e.getValue() == worker).map(e -> e.getKey().label(0))
        .findFirst().orElseThrow();
    List<Hcl.Block> jobCalls = calls.entrySet().stream().filter(e -> e.getValue() == job).map(Map.Entry::getKey).toList();
    assertThat(jobCalls).isNotEmpty();
    for (Hcl.Block call : jobCalls) {
      assertThat(call.body().attribute("service_account_email")).hasValue("module." + workerCall + ".email");
    }
    // Every storage grant in the worker module goes to that account.
    for (String type : List.of("google_storage_bucket_iam_member", "google_project_iam_member",
        "google_artifact_registry_repository_iam_member", "google_secret_manager_secret_iam_member")) {
      for (Hcl.Block b : worker.resources(type)) {
        assertThat(b.body().attribute("member")).as("%s.%s member", type, b.label(1))
            .hasValue("\"serviceAccount:${" + account + ".email}\"");
      }
    }
  }

  @Test
  void noStorageRole_isGrantedAtProjectFolderOrOrganisationLevel_andNoKeysExist() {
    Pattern scoped = Pattern.compile("^google_(project|folder|organization)_iam_(member|binding|policy|audit_config)$");
    List<String> projectRoles = new ArrayList<>();
    modules.forEach((dir, m) -> {
      for (Hcl.Block r : m.blocks("resource")) {
        String type = r.label(0);
        assertThat(type).as("resource in %s", dir).isNotIn("google_service_account_key", "google_storage_hmac_key");
        if (!scoped.matcher(type).matches()) {
          continue;
        }
        // Additive members only: an authoritative binding or policy would take roles away from others.
        assertThat(type).as("%s in %s", type, dir).endsWith("_iam_member");
        projectRoles.addAll(roles(r, dir));
      }
      assertThat(m.blocks("data")).extracting(b -> b.label(0)).as("data sources in %s", dir).doesNotContain("google_iam_policy");
    });
    assertThat(projectRoles).isNotEmpty().allSatisfy(role -> assertThat(role).doesNotStartWith("roles/storage."));
    assertThat(projectRoles).containsExactlyInAnyOrder("roles/dataflow.worker", "roles/logging.logWriter", "roles/monitoring.metricWriter");
  }

  /**
   * The roles a project-level IAM resource grants. Only literals count: a role from a variable could
   * be anything, so it fails the test rather than slip past it.
   */
  static List<String> roles(Hcl.Block r, Path dir) {
    String role = r.body().attribute("role").orElseThrow();
    if (role.startsWith("\"")) {
      return List.of(unquote(role));
    }
    assertThat(role).as("role of %s.%s in %s: a literal, or each.value of a literal for_each", r.label(0), r.label(1), dir)
        .isIn("each.value", "each.key");
    String forEach = r.body().attribute("for_each").orElseThrow();
    assertThat(forEach).as("for_each of %s.%s in %s", r.label(0), r.label(1), dir).doesNotContain("var.", "local.", "module.", "data.");
    List<String> out = new ArrayList<>();
    Matcher m = Pattern.compile("\"([^\"]*)\"").matcher(forEach);
    while (m.find()) {
      out.add(m.group(1));
    }
    return out;
  }

  @Test
  void buckets_useUniformAccessAndNoPublicAccess_andTempFilesExpire() {
    List<Hcl.Block> buckets = new ArrayList<>();
    modules.values().forEach(m -> buckets.addAll(m.resources("google_storage_bucket")));
    assertThat(buckets).extracting(b -> b.label(1)).containsExactlyInAnyOrder("catalogs", "outputs", "results", "temp");
    for (Hcl.Block b : buckets) {
      assertThat(b.body().attribute("uniform_bucket_level_access")).as(b.label(1)).hasValue("true");
      assertThat(b.body().attribute("public_access_prevention")).as(b.label(1)).hasValue("\"enforced\"");
    }
    Hcl.Block temp = buckets.stream().filter(b -> b.label(1).equals("temp")).findFirst().orElseThrow();
    List<Hcl.Block> rules = temp.body().blocks("lifecycle_rule");
    assertThat(rules).isNotEmpty().allSatisfy(rule -> {
      assertThat(rule.body().blocks("action").get(0).body().attribute("type")).hasValue("\"Delete\"");
      assertThat(rule.body().blocks("condition").get(0).body().attribute("age")).isPresent();
    });
    // The template spec lives in the temp bucket too; no rule may expire it.
    assertThat(rules).allSatisfy(rule -> assertThat(rule.body().blocks("condition").get(0).body().attribute("matches_prefix"))
        .isPresent().get().asString().doesNotContain("templates"));
    // Every bucket the worker is granted is one of these, named by a variable the environment wires to them.
    Hcl.Module worker = module("modules/worker-identity");
    assertThat(worker.resources("google_storage_bucket_iam_member")).extracting(b -> b.body().attribute("bucket").orElseThrow())
        .containsExactlyInAnyOrder("var.catalogs_bucket", "var.outputs_bucket", "var.results_bucket", "var.temp_bucket", "var.temp_bucket");
  }

  @Test
  void providers_arePinned_inEveryModule() {
    Pattern provider = Pattern.compile("([\\w-]+)\\s*=\\s*\\{([^}]*)\\}");
    modules.forEach((dir, m) -> {
      List<Hcl.Block> terraform = m.blocks("terraform");
      assertThat(terraform).as("terraform block in %s", dir).hasSize(1);
      assertThat(terraform.get(0).body().attribute("required_version")).as("required_version in %s", dir).isPresent();
      Map<String, String> pinned = new LinkedHashMap<>();
      for (Hcl.Block rp : terraform.get(0).body().blocks("required_providers")) {
        Matcher p = provider.matcher(rp.body().attributes().values().stream()
            .map(a -> a.name() + " = " + a.expression()).reduce("", (x, y) -> x + "\n" + y));
        while (p.find()) {
          assertThat(p.group(2)).as("provider %s in %s", p.group(1), dir).containsPattern("source\\s*=\\s*\"hashicorp/")
              .containsPattern("version\\s*=\\s*\"[~><=]+ ?\\d");
          pinned.put(p.group(1), p.group(2));
        }
      }
      // Each resource's provider (google unless it says otherwise) is one of the pinned ones.
      for (Hcl.Block r : m.blocks("resource")) {
        String used = r.body().attribute("provider").orElse("google");
        assertThat(pinned).as("provider %s of %s.%s in %s", used, r.label(0), r.label(1), dir).containsKey(used);
      }
    });
  }

  @Test
  void renderJobParameters_areTemplateParameters_andIncludeEveryRequiredOne() throws IOException {
    JsonNode metadata = new ObjectMapper().readTree(METADATA.toFile());
    Set<String> declared = new TreeSet<>();
    Set<String> required = new TreeSet<>();
    for (JsonNode p : metadata.path("parameters")) {
      declared.add(p.path("name").asText());
      if (!p.path("isOptional").asBoolean(false)) {
        required.add(p.path("name").asText());
      }
    }
    Hcl.Block job = module("modules/flex-template-job").resources("google_dataflow_flex_template_job").get(0);
    String parameters = job.body().attribute("parameters").orElseThrow();
    Set<String> keys = new TreeSet<>();
    Matcher m = Pattern.compile("(?m)^\\s*([A-Za-z]\\w*)\\s*=").matcher(parameters.substring(1, parameters.length() - 1));
    while (m.find()) {
      keys.add(m.group(1));
    }
    assertThat(declared).containsAll(keys);
    assertThat(keys).containsAll(required);
  }

  @Test
  void exampleEnvironment_outputsBucketsServiceAccountAndJobId() {
    assertThat(module("environments/example").outputs()).contains(
        "catalogs_bucket", "outputs_bucket", "results_bucket", "temp_bucket", "worker_service_account", "job_id");
  }

  @Test
  void requiredApis_areEnabled() {
    Hcl.Block services = module("modules/project-services").blocks("variable").stream()
        .filter(v -> v.label(0).equals("services")).findFirst().orElseThrow();
    assertThat(services.body().attribute("default").orElseThrow()).contains(
        "\"dataflow.googleapis.com\"", "\"storage.googleapis.com\"", "\"artifactregistry.googleapis.com\"",
        "\"compute.googleapis.com\"", "\"logging.googleapis.com\"", "\"monitoring.googleapis.com\"");
    assertThat(module("environments/example").blocks("module")).extracting(b -> b.body().attribute("source").orElseThrow())
        .contains("\"../../modules/project-services\"");
  }

  private static String unquote(String s) {
    return s.startsWith("\"") && s.endsWith("\"") ? s.substring(1, s.length() - 1) : s;
  }
}
