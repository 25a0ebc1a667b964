package dev.ocirender.image.json;

import dev.ocirender.image.Digest;
import dev.ocirender.image.Platform;
import java.io.IOException;
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
 * loosely: the common fields are typed, anything else is kept as JSON text in
 * {@link ContainerConfig#other()}. Nothing here is interpreted as an instruction to run anything.
 *
 * @see <a href="https://github.com/opencontainers/image-spec/blob/main/config.md">OCI image config</a>
 */
public final class ImageConfigTemplate {

  /** The {@code config} object: how a runtime would start the image. */
  public static final class ContainerConfig {
    private String user;
    private List<String> exposedPorts;
    private List<String> env;
    private List<String> entrypoint;
    private List<String> cmd;
    private List<String> volumes;
    private String workingDir;
    private Map<String, String> labels;
    private String stopSignal;
    // Docker writes many more (Hostname, Healthcheck, OnBuild, ...); kept as JSON text, not interpreted.
    private final Map<String, String> other = new LinkedHashMap<>();

    static ContainerConfig read(TemplateParser p, String what) throws IOException {
      if (!p.beginObject(what)) {
        return null;
      }
      ContainerConfig t = new ContainerConfig();
      for (String field; (field = p.nextField()) != null; ) {
        String where = what + "." + field;
        switch (field) {
          case "User" -> t.user = p.string(where);
          // Sets written as objects: {"80/tcp": {}}.
          case "ExposedPorts" -> t.exposedPorts = p.keys(where);
          case "Env" -> t.env = p.strings(where);
          case "Entrypoint" -> t.entrypoint = p.strings(where);
          case "Cmd" -> t.cmd = p.strings(where);
          case "Volumes" -> t.volumes = p.keys(where);
          case "WorkingDir" -> t.workingDir = p.string(where);
          case "Labels" -> t.labels = p.stringMap(where);
          case "StopSignal" -> t.stopSignal = p.string(where);
          default -> t.other.put(field, p.rawJson());
        }
      }
      return t;
    }

    /** The fields not typed above, each value as compact JSON text. */
    public Map<String, String> other() {
      return other;
    }

    public String user() {
      return user;
    }

    public List<String> exposedPorts() {
      return exposedPorts == null ? List.of() : exposedPorts;
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
      return volumes == null ? List.of() : volumes;
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
  public static final class RootFs {
    private String type;
    private List<String> diffIds;

    static RootFs read(TemplateParser p, String what) throws IOException {
      if (!p.beginObject(what)) {
        return null;
      }
      RootFs t = new RootFs();
      for (String field; (field = p.nextField()) != null; ) {
        switch (field) {
          case "type" -> t.type = p.string(what + ".type");
          case "diff_ids" -> t.diffIds = p.strings(what + ".diff_ids");
          default -> p.skip();
        }
      }
      return t;
    }

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
  public static final class History {
    private String created;
    private String createdBy;
    private String author;
    private String comment;
    private Boolean emptyLayer;

    static History read(TemplateParser p, String what) throws IOException {
      if (!p.beginObject(what)) {
        return null;
      }
      History t = new History();
      for (String field; (field = p.nextField()) != null; ) {
        switch (field) {
          case "created" -> t.created = p.string(what + ".created");
          case "created_by" -> t.createdBy = p.string(what + ".created_by");
          case "author" -> t.author = p.string(what + ".author");
          case "comment" -> t.comment = p.string(what + ".comment");
          case "empty_layer" -> t.emptyLayer = p.bool(what + ".empty_layer");
          default -> p.skip();
        }
      }
      return t;
    }

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
  private String osVersion;
  private String variant;
  private ContainerConfig config;
  private RootFs rootfs;
  private List<History> history;

  static ImageConfigTemplate read(TemplateParser p, String what) throws IOException {
    if (!p.beginObject(what)) {
      return null;
    }
    ImageConfigTemplate t = new ImageConfigTemplate();
    for (String field; (field = p.nextField()) != null; ) {
      switch (field) {
        case "created" -> t.created = p.string("created");
        case "author" -> t.author = p.string("author");
        case "architecture" -> t.architecture = p.string("architecture");
        case "os" -> t.os = p.string("os");
        case "os.version" -> t.osVersion = p.string("os.version");
        case "variant" -> t.variant = p.string("variant");
        case "config" -> t.config = ContainerConfig.read(p, "config");
        case "rootfs" -> t.rootfs = RootFs.read(p, "rootfs");
        case "history" -> t.history = p.list("history", History::read);
        default -> p.skip();
      }
    }
    return t;
  }

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
      if (raw.get(i) == null) {
        throw new MalformedTemplateException("rootfs.diff_ids[" + i + "] is null");
      }
      try {
        out.add(Digest.parse(raw.get(i)));
      } catch (IllegalArgumentException e) {
        throw new MalformedTemplateException("rootfs.diff_ids[" + i + "]: " + e.getMessage(), e);
      }
    }
    return out;
  }
}
