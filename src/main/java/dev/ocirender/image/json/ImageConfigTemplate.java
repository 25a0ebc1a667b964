package dev.ocirender.image.json;

/** STUB (h-cli): placeholder for the image config JSON template; replaced by the source work at merge. */
public class ImageConfigTemplate {}
