package dev.ocirender.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.lang.reflect.Method;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.beam.runners.dataflow.options.DataflowPipelineWorkerPoolOptions;
import org.apache.beam.sdk.options.Default;
import org.apache.beam.sdk.options.PipelineOptions;
import org.apache.beam.sdk.options.Validation;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Flex Template's parameters ({@code pipelines/catalog-render/template/metadata.json}) and the
 * pipeline's options must be the same set: an option missing from the template cannot be set at
 * launch, and a parameter the pipeline does not know fails the launch ("unknown option").
 *
 * <p>The options are the getters declared in {@link CatalogPipelineOptions} itself, plus the
 * inherited runner options of {@link #INHERITED}. Runner options are left out on purpose when the
 * launch already has a field for them (region, machine type, worker counts, service account, temp
 * and staging locations, experiments: {@code gcloud dataflow flex-template run} flags and
 * {@code google_dataflow_flex_template_job} arguments); a parameter would be a second way to say
 * the same thing.
 */
class FlexTemplateMetadataTest {

  /**
   * Beam options that the template declares as parameters, with the interface that declares them:
   * worker disk size matters for squashfs temp files, and neither the launch flags nor terraform's
   * resource have a field for it.
   */
  static final Map<String, Class<? extends PipelineOptions>> INHERITED = Map.of(
      "diskSizeGb", DataflowPipelineWorkerPoolOptions.class);

  static final Path METADATA = RunnerProfiles.JOB.resolve("template").resolve("metadata.json");

  static JsonNode metadata;
  static Map<String, JsonNode> parameters;

  @BeforeAll
  static void read() throws Exception {
    metadata = new ObjectMapper().readTree(METADATA.toFile());
    parameters = new LinkedHashMap<>();
    for (JsonNode p : metadata.path("parameters")) {
      JsonNode previous = parameters.put(p.path("name").asText(), p);
      assertThat(previous).as("parameter %s declared twice", p.path("name").asText()).isNull();
    }
  }

  /** Option name to getter, for the getters declared in CatalogPipelineOptions (not inherited ones). */
  static Map<String, Method> declaredOptions() {
    Map<String, Method> out = new TreeMap<>();
    for (Method m : CatalogPipelineOptions.class.getDeclaredMethods()) {
      Matcher g = Pattern.compile("^(?:get|is)([A-Z].*)$").matcher(m.getName());
      if (g.matches() && m.getParameterCount() == 0) {
        out.put(Character.toLowerCase(g.group(1).charAt(0)) + g.group(1).substring(1), m);
      }
    }
    return out;
  }

  @Test
  void everyOption_isATemplateParameter_andViceVersa() {
    Set<String> options = new TreeSet<>(declaredOptions().keySet());
    options.addAll(INHERITED.keySet());
    assertThat(options).as("declared options").contains("catalog", "outputPrefix", "resultsPrefix");
    assertThat(new TreeSet<>(parameters.keySet())).isEqualTo(options);
  }

  @Test
  void inheritedParameters_areRealBeamOptions() throws Exception {
    for (Map.Entry<String, Class<? extends PipelineOptions>> e : INHERITED.entrySet()) {
      String name = e.getKey();
      Method getter = e.getValue().getMethod("get" + Character.toUpperCase(name.charAt(0)) + name.substring(1));
      assertThat(getter).isNotNull();
      assertThat(CatalogPipelineOptions.class.getMethods()).as("%s must not shadow a Beam option", name)
          .noneMatch(m -> m.getDeclaringClass() == CatalogPipelineOptions.class && m.getName().equals(getter.getName()));
    }
  }

  @Test
  void requiredOptions_areTheMandatoryParameters() {
    declaredOptions().forEach((name, getter) -> assertThat(parameters.get(name).path("isOptional").asBoolean(false))
        .as("isOptional of %s", name)
        .isEqualTo(getter.getAnnotation(Validation.Required.class) == null));
    INHERITED.keySet().forEach(name -> assertThat(parameters.get(name).path("isOptional").asBoolean(false))
        .as("isOptional of inherited %s", name).isTrue());
  }

  @Test
  void everyParameter_hasLabelHelpTextAndAnchoredRegexes() {
    parameters.forEach((name, p) -> {
      assertThat(p.path("label").asText()).as("label of %s", name).isNotBlank();
      assertThat(p.path("helpText").asText()).as("helpText of %s", name).hasSizeGreaterThan(30);
      assertThat(p.path("regexes")).as("regexes of %s", name).isNotEmpty();
      for (JsonNode r : p.path("regexes")) {
        assertThat(r.asText()).as("regex of %s is anchored", name).startsWith("^").endsWith("$");
        Pattern.compile(r.asText());
      }
    });
    assertThat(metadata.path("name").asText()).isNotBlank();
    assertThat(metadata.path("description").asText()).isNotBlank();
  }

  @Test
  void defaultsAndHelpTextExamples_passTheirOwnRegexes() {
    Map<String, List<String>> samples = new TreeMap<>();
    declaredOptions().forEach((name, getter) -> {
      List<String> values = new ArrayList<>();
      Default.String s = getter.getAnnotation(Default.String.class);
      if (s != null && !s.value().isEmpty()) {
        values.add(s.value());
      }
      Default.Boolean b = getter.getAnnotation(Default.Boolean.class);
      if (b != null) {
        values.add(String.valueOf(b.value()));
      }
      Default.Integer i = getter.getAnnotation(Default.Integer.class);
      if (i != null) {
        values.add(String.valueOf(i.value()));
      }
      Default.Long l = getter.getAnnotation(Default.Long.class);
      if (l != null) {
        values.add(String.valueOf(l.value()));
      }
      samples.put(name, values);
    });
    // "Example: VALUE" at the end of a help text is what the Dataflow UI shows as a hint; keep it valid.
    parameters.forEach((name, p) -> {
      Matcher example = Pattern.compile("Example: (\\S+)$").matcher(p.path("helpText").asText());
      if (example.find()) {
        samples.computeIfAbsent(name, k -> new ArrayList<>()).add(example.group(1));
      }
    });
    samples.forEach((name, values) -> {
      for (String v : values) {
        assertThat(parameters.get(name).path("regexes").iterator().next().asText())
            .as("%s value '%s'", name, v).matches(r -> v.matches(r), "matches " + v);
      }
    });
    assertThat(samples.values().stream().mapToInt(List::size).sum()).as("values checked").isGreaterThanOrEqualTo(16);
  }

  @Test
  void dataflowProfileValues_passTheTemplateRegexes() throws Exception {
    for (String option : RunnerProfiles.options("dataflow")) {
      String name = option.substring(2, option.indexOf('='));
      if (parameters.containsKey(name)) {
        String value = option.substring(option.indexOf('=') + 1);
        assertThat(value).matches(parameters.get(name).path("regexes").get(0).asText());
      }
    }
    for (String option : DataflowProfileDryRunTest.SITE) {
      String name = option.substring(2, option.indexOf('='));
      if (parameters.containsKey(name)) {
        assertThat(option.substring(option.indexOf('=') + 1)).matches(parameters.get(name).path("regexes").get(0).asText());
      }
    }
  }
}
