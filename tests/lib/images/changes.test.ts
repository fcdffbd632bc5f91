import { describe, expect, test } from "bun:test";
import { isSkiffError } from "../../../lib/errors.ts";
import { applyChanges, commandForm, expandWord, words } from "../../../lib/images/changes.ts";

function invalid(changes: string[], text: string): void {
  try {
    applyChanges({}, changes);
  } catch (e) {
    expect(isSkiffError(e, "InvalidArgument")).toBe(true);
    expect((e as Error).message).toContain(text);
    return;
  }
  throw new Error(`${JSON.stringify(changes)} was accepted`);
}

describe("applyChanges", () => {
  test("CMD and ENTRYPOINT: exec form, shell form, case-insensitive keyword", () => {
    expect(applyChanges({}, ['CMD ["sh", "-c", "echo hi"]'])).toEqual({ Cmd: ["sh", "-c", "echo hi"] });
    expect(applyChanges({}, ["cmd echo $HOME"])).toEqual({ Cmd: ["/bin/sh", "-c", "echo $HOME"] });
    expect(applyChanges({}, ["ENTRYPOINT [not json"])).toEqual({ Entrypoint: ["/bin/sh", "-c", "[not json"], Cmd: null });
    expect(commandForm('["a", 1]')).toEqual(["/bin/sh", "-c", '["a", 1]']);
  });

  test("ENTRYPOINT clears an inherited CMD but not one set by an earlier change", () => {
    expect(applyChanges({ Cmd: ["base"] }, ['ENTRYPOINT ["/app"]'])).toEqual({ Cmd: null, Entrypoint: ["/app"] });
    expect(applyChanges({}, ['CMD ["--help"]', 'ENTRYPOINT ["/app"]'])).toEqual({ Cmd: ["--help"], Entrypoint: ["/app"] });
  });

  test("ENV: pairs with quotes, the legacy form, replacement in place, expansion", () => {
    const c = applyChanges({ Env: ["PATH=/bin", "A=old"] }, [
      'ENV A=new B="two words" C=a\\ b',
      "ENV LEGACY value with  spaces",
      "ENV PATH=/opt/bin:$PATH D=${A}-${NOPE:-dflt}-${A:+set}",
      "ENV Q='$A' R=\"$A\"",
    ]);
    expect(c.Env).toEqual([
      "PATH=/opt/bin:/bin",
      "A=new",
      "B=two words",
      "C=a b",
      "LEGACY=value with  spaces",
      "D=new-dflt-set",
      "Q=$A",
      "R=new",
    ]);
  });

  test("LABEL, EXPOSE, VOLUME, WORKDIR, USER, STOPSIGNAL, ONBUILD", () => {
    const c = applyChanges({ WorkingDir: "/srv" }, [
      'LABEL a=1 "b c"=2 version="1.0"',
      "EXPOSE 80 53/udp 8000-8002/TCP",
      'VOLUME ["/data", "/logs"]',
      "VOLUME /cache /tmp/x",
      "WORKDIR app",
      "WORKDIR ../www",
      "USER 1000:1000",
      "STOPSIGNAL SIGQUIT",
      "ONBUILD run echo hi",
    ]);
    expect(c.Labels).toEqual({ a: "1", "b c": "2", version: "1.0" });
    expect(Object.keys(c.ExposedPorts ?? {})).toEqual(["80/tcp", "53/udp", "8000/tcp", "8001/tcp", "8002/tcp"]);
    expect(Object.keys(c.Volumes ?? {})).toEqual(["/data", "/logs", "/cache", "/tmp/x"]);
    expect(c.WorkingDir).toBe("/srv/www");
    expect(c.User).toBe("1000:1000");
    expect(c.StopSignal).toBe("SIGQUIT");
    expect(c.OnBuild).toEqual(["RUN echo hi"]);
    expect(applyChanges({}, ["WORKDIR /abs"]).WorkingDir).toBe("/abs");
  });

  test("several instructions in one change, continuation lines, comments", () => {
    expect(applyChanges({}, ["ENV A=1\nUSER nobody", "LABEL x=\\\n1", "# just a comment"])).toEqual({ Env: ["A=1"], User: "nobody", Labels: { x: "1" } });
  });

  test("the input config is not modified", () => {
    const base = { Env: ["A=1"] };
    applyChanges(base, ["ENV A=2"]);
    expect(base).toEqual({ Env: ["A=1"] });
  });

  test("unsupported instructions and bad arguments are InvalidArgument", () => {
    invalid(["RUN echo hi"], "RUN is not supported");
    invalid(["FROM busybox"], "FROM is not supported");
    invalid(["HEALTHCHECK NONE"], "HEALTHCHECK is not supported");
    invalid(["CMD"], "CMD needs an argument");
    invalid(["ENV ONLYKEY"], "has no value");
    invalid(["ENV A=1 B"], "is not of the form KEY=VALUE");
    invalid(["EXPOSE http"], "invalid port");
    invalid(["EXPOSE 70000"], "invalid port range");
    invalid(["EXPOSE 9-1"], "invalid port range");
    invalid(["STOPSIGNAL 'a b'"], "invalid signal");
    invalid(["ONBUILD FROM x"], "not allowed");
    invalid(['LABEL a="unterminated'], "unterminated quote");
  });
});

describe("words and expandWord", () => {
  test("split on unquoted whitespace only", () => {
    expect(words(` a "b c"  'd e' f\\ g `)).toEqual(["a", '"b c"', "'d e'", "f\\ g"]);
  });

  test("quotes, escapes and variables as the shell has them", () => {
    const env = new Map([["X", "1"]]);
    expect(expandWord(`"a\\"b" 'c\\d' \\$X $X \${X}y $Y.`, env)).toBe(`a"b c\\d $X 1 1y .`);
    expect(expandWord(`"\\n"`, env)).toBe("\\n");
  });
});
