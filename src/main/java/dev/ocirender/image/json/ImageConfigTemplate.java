package dev.ocirender.image.json;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonAutoDetect;
import com.fasterxml.jackson.annotation.JsonAutoDetect.Visibility;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import dev.ocirender.image.Digest;
import dev.ocirender.image.Platform;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An image configuration: the OCI image config and the Docker container image v1 config share this
 * shape (Docker's adds fields that are ignored here).
 *
 * <p>Example:
 *
 * <pre>{@code
 * {
 *   "architecture": "arm64", "os": "linux", "variant": "v8",
 *   "config": {"Env": ["PATH=/usr/bin"], "Cmd": ["/bin/sh"], "WorkingDir": "/"},
 *   "rootfs": {"type": "layers", "diff_ids": ["sha256:…", "sha256:…"]},
 *   "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "ADD file:… in /"}]
 * }
 * }</pre>
 *
 * <p>ocirender needs the platform (to select and check images) and {@code rootfs.diff_ids} (the
 * uncompressed digest of each layer, base first). The execution parameters in {@code config} are kept
 * loosely for {@code inspect}: the common fields are typed, anything else is kept as JSON in
 * {@link ContainerConfig#other()}. Nothing here is interpreted as an instruction to run anything.
 *
 * @see <a href="https://github.com/opencontainers/image-spec/blob/main/config.md">OCI image config</a>
 */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_EMPTY)
@JsonAutoDetect(fieldVisibility = Visibility.ANY, getterVisibility = Visibility.NONE, isGetterVisibility = Visibility.NONE)
public final class ImageConfigTemplate {

  /** The {@code config} object: how a runtime would start the image. */
  @JsonInclude(JsonInclude.Include.NON_EMPTY)
  @JsonAutoDetect(fieldVisibility = Visibility.ANY, getterVisibility = Visibility.NONE, isGetterVisibility = Visibility.NONE)
  public static final class ContainerConfig {
    @JsonProperty("User")
    private String user;
    @JsonProperty("ExposedPorts")
    private Map<String, JsonNode> exposedPorts;
    @JsonProperty("Env")
    private List<String> env;
    @JsonProperty("Entrypoint")
    private List<String> entrypoint;
    @JsonProperty("Cmd")
    private List<String> cmd;
    @JsonProperty("Volumes")
    private Map<String, JsonNode> volumes;
    @JsonProperty("WorkingDir")
    private String workingDir;
    @JsonProperty("Labels")
    private Map<String, String> labels;
    @JsonProperty("StopSignal")
    private String stopSignal;
    // Docker writes many more (Hostname, Healthcheck, OnBuild, ...); kept, not interpreted.
    private final Map<String, JsonNode> other = new LinkedHashMap<>();

    @JsonAnySetter
    void putOther(String key, JsonNode value) {
      other.put(key, value);
    }

    @JsonAnyGetter
    public Map<String, JsonNode> other() {
      return other;
    }

    public String user() {
      return user;
    }

    public List<String> exposedPorts() {
      return exposedPorts == null ? List.of() : List.copyOf(exposedPorts.keySet());
    }

    public List<String> env() {
      return env == null ? List.of() : env;
    }

    /** The entrypoint, or null when unset (distinct from an empty one). */
    public List<String> entrypoint() {
      return entrypoint;
    }

    /** The command, or null when unset (distinct from an empty one). */
    public List<String> cmd() {
      return cmd;
    }

    public List<String> volumes() {
      return volumes == null ? List.of() : List.copyOf(volumes.keySet());
    }

    public String workingDir() {
      return workingDir;
    }

    public Map<String, String> labels() {
      return labels == null ? Map.of() : labels;
    }

    public String stopSignal() {
      return stopSignal;
    }
  }

  /** The {@code rootfs} object. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  @JsonInclude(JsonInclude.Include.NON_EMPTY)
  @JsonAutoDetect(fieldVisibility = Visibility.ANY, getterVisibility = Visibility.NONE, isGetterVisibility = Visibility.NONE)
  public static final class RootFs {
    private String type;
    @JsonProperty("diff_ids")
    private List<String> diffIds;

    /** Always {@code layers} in valid configs. */
    public String type() {
      return type;
    }

    /** The diff IDs as written, unvalidated. */
    public List<String> diffIds() {
      return diffIds == null ? List.of() : diffIds;
    }
  }

  /** One {@code history} entry; {@code empty_layer} entries have no layer of their own. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  @JsonInclude(JsonInclude.Include.NON_EMPTY)
  @JsonAutoDetect(fieldVisibility = Visibility.ANY, getterVisibility = Visibility.NONE, isGetterVisibility = Visibility.NONE)
  public static final class History {
    private String created;
    @JsonProperty("created_by")
    private String createdBy;
    private String author;
    private String comment;
    @JsonProperty("empty_layer")
    private Boolean emptyLayer;

    public String created() {
      return created;
    }

    public String createdBy() {
      return createdBy;
    }

    public String author() {
      return author;
    }

    public String comment() {
      return comment;
    }

    public boolean emptyLayer() {
      return Boolean.TRUE.equals(emptyLayer);
    }
  }

  private String created;
  private String author;
  private String architecture;
  private String os;
  @JsonProperty("os.version")
  private String osVersion;
  private String variant;
  private ContainerConfig config;
  private RootFs rootfs;
  private List<History> history;

  public String created() {
    return created;
  }

  public String author() {
    return author;
  }

  public String architecture() {
    return architecture;
  }

  public String os() {
    return os;
  }

  public String variant() {
    return variant;
  }

  /** The execution parameters, or null when the config has none. */
  public ContainerConfig config() {
    return config;
  }

  public RootFs rootfs() {
    return rootfs;
  }

  public List<History> history() {
    return history == null ? List.of() : history;
  }

  /** The image's platform, or null when {@code os} or {@code architecture} is missing. */
  public Platform platform() {
    if (os == null || os.isEmpty() || architecture == null || architecture.isEmpty()) {
      return null;
    }
    return new Platform(os, architecture, variant);
  }

  /**
   * {@code rootfs.diff_ids}, validated: the uncompressed digest of each layer, base first.
   *
   * @throws MalformedTemplateException when {@code rootfs} is missing or a diff ID is not a digest
   */
  public List<Digest> diffIds() throws MalformedTemplateException {
    if (rootfs == null) {
      throw new MalformedTemplateException("image config has no rootfs");
    }
    List<Digest> out = new ArrayList<>();
    List<String> raw = rootfs.diffIds();
    for (int i = 0; i < raw.size(); i++) {
      try {
        out.add(Digest.parse(raw.get(i)));
      } catch (IllegalArgumentException e) {
        throw new MalformedTemplateException("rootfs.diff_ids[" + i + "]: " + e.getMessage(), e);
      }
    }
    return out;
  }
}
