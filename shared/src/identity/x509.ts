// @peculiar/x509 with what it needs loaded first: its dependency injection (tsyringe) requires the reflect-metadata
// polyfill before import, and it signs with the platform's WebCrypto.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(crypto);

export { x509 };
