package dev.ocirender.pipeline;

import java.util.List;

/**
 * All catalog lines that ask for the same render (same manifest digest, platform and format): the
 * first in catalog order is rendered to its output, the others get "duplicate" results pointing at
 * that output.
 *
 * @param canonical the line that is rendered
 * @param duplicates the other lines, in catalog order
 * @param replaceVersion when an output exists at the canonical output and is being replaced (a
 *     different digest there, or {@code --overwrite}), its store version; null when none exists
 *
 * <p>Carried between steps by {@link ElementCoders} (deterministic, field by field).
 */
public record ImageGroup(ResolvedRequest canonical, List<ResolvedRequest> duplicates, String replaceVersion) {

  public ImageGroup {
    duplicates = List.copyOf(duplicates);
  }

  ImageGroup replacing(String version) {
    return new ImageGroup(canonical, duplicates, version);
  }
}
