import * as s3 from 'aws-cdk-lib/aws-s3';

/**
 * Where an export is written: a bucket and key prefix, or an S3 URI.
 */
export class ExportDestination {
  /**
   * A bucket and an optional key prefix. The default export role gets write access to that prefix.
   *
   * @param bucket the bucket to write to
   * @param prefix the key prefix of the exported files (include a trailing "/" for a folder)
   */
  public static fromBucket(bucket: s3.IBucket, prefix?: string): ExportDestination {
    const keyPrefix = prefix ?? '';
    return new ExportDestination(bucket.s3UrlForObject(keyPrefix), bucket, bucket.bucketName, keyPrefix);
  }

  /**
   * An S3 URI such as `s3://bucket/prefix/`. With a literal URI the default export role gets write
   * access to it; with a token, pass your own `role`.
   *
   * @param uri the S3 URI, `s3://<bucket>/<prefix>`
   */
  public static fromS3Uri(uri: string): ExportDestination {
    const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
    return new ExportDestination(uri, undefined, match?.[1], match?.[2]);
  }

  /**
   * @param uri the S3 URI the service is given
   * @param bucket the bucket, when the destination was given as one
   * @param bucketName the bucket name, when known at synth time
   * @param keyPrefix the key prefix within the bucket, when known at synth time
   */
  private constructor(
    public readonly uri: string,
    public readonly bucket?: s3.IBucket,
    public readonly bucketName?: string,
    public readonly keyPrefix?: string,
  ) {}
}
