package dev.ocirender.merge;

/**
 * What a merge did. {@code entriesWritten} counts what reached the sink (root included);
 * {@code hiddenEntries} counts layer entries that a newer layer replaced or whited out;
 * {@code droppedLinks} counts hard links whose target did not exist (or was a directory) when the
 * link was applied; {@code restarts} is 1 when a layer with conflicting entries forced a second,
 * indexed pass.
 */
public record MergeStats(
    long entriesRead,
    long entriesWritten,
    long files,
    long directories,
    long symlinks,
    long hardLinks,
    long otherEntries,
    long whiteouts,
    long hiddenEntries,
    long droppedLinks,
    long promotedLinks,
    long contentBytes,
    int restarts) {}
