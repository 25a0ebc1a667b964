package dev.ocirender.cli;

import dev.ocirender.image.Platform;
import dev.ocirender.render.OutputFormat;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** picocli converters that reuse the value types' own parsers and their messages. */
final class Converters {
  private Converters() {}

  static final class PlatformConverter implements ITypeConverter<Platform> {
    @Override
    public Platform convert(String value) {
      try {
        return Platform.parse(value);
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException(e.getMessage());
      }
    }
  }

  static final class FormatConverter implements ITypeConverter<OutputFormat> {
    @Override
    public OutputFormat convert(String value) {
      try {
        return OutputFormat.parse(value);
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException(e.getMessage());
      }
    }
  }
}
