/**
 * The format of an export's files. The values Neptune Analytics knows today are the constants;
 * `of()` passes any other value through to the service.
 */
export class ExportFormat {
  /** Apache Parquet files. */
  public static readonly PARQUET = new ExportFormat('PARQUET');
  /** CSV files, in Neptune's openCypher CSV layout. */
  public static readonly CSV = new ExportFormat('CSV');

  /**
   * A format this library does not know yet. Only its shape is checked at synth time (upper-case
   * letters, digits and underscores): whether the service knows it is the service's answer, as the
   * reason of the failed deployment.
   */
  public static of(value: string): ExportFormat {
    return new ExportFormat(value);
  }

  /** @param value the format as the service names it */
  private constructor(public readonly value: string) {}
}

/**
 * The layout of a Parquet export. The service knows one layout today (`COLUMNAR`, also what it uses
 * when none is given); `of()` passes any other value through to the service.
 */
export class ParquetType {
  /** Columnar Parquet: one column per property. */
  public static readonly COLUMNAR = new ParquetType('COLUMNAR');

  /**
   * A Parquet type this library does not know yet. Only its shape is checked at synth time
   * (upper-case letters, digits and underscores); the service decides whether it knows it.
   */
  public static of(value: string): ParquetType {
    return new ParquetType(value);
  }

  /** @param value the Parquet type as the service names it */
  private constructor(public readonly value: string) {}
}
