// vib3 query language. Minimal first cut that proves the build pipeline;
// the full language grows from here. Compiled at build time by src/Vib3.Query.
grammar Vib3;

options { caseInsensitive = true; }

// A script: statements separated by ';'. Empty statements (";;", trailing ';') are allowed.
script
    : statement? (SEMI statement?)* EOF
    ;

// Every decision below is LL(1) on purpose: syntax errors then name exactly what was expected.
statement
    : SHOW target=(MODELS | TIERS)                  # show
    | DESCRIBE identifier                           # describe
    | GENERATE STRING routing? maxTokens?           # generate
    ;

routing
    : USING ( ROUTER | RETRIEVAL K EQ INTEGER )
    ;

maxTokens
    : MAX_TOKENS INTEGER
    ;

// Words that are keywords only in context stay usable as names.
identifier
    : IDENTIFIER
    | QUOTED_IDENTIFIER
    | MODELS | TIERS | ROUTER | RETRIEVAL | K | MAX_TOKENS
    ;

// ---- lexer ----
SHOW       : 'SHOW';
MODELS     : 'MODELS';
TIERS      : 'TIERS';
DESCRIBE   : 'DESCRIBE';
GENERATE   : 'GENERATE';
USING      : 'USING';
ROUTER     : 'ROUTER';
RETRIEVAL  : 'RETRIEVAL';
K          : 'K';
MAX_TOKENS : 'MAX_TOKENS';

SEMI : ';';
EQ   : '=';

INTEGER : [0-9]+;

// 'it''s' : a doubled quote inside a literal stands for one quote.
STRING : '\'' ( ~'\'' | '\'\'' )* '\'';

IDENTIFIER : [A-Z_] [A-Z_0-9]*;

// "My Model" : a doubled double quote stands for one.
QUOTED_IDENTIFIER : '"' ( ~'"' | '""' )+ '"';

LINE_COMMENT  : '--' ~[\r\n]* -> channel(HIDDEN);
BLOCK_COMMENT : '/*' .*? '*/' -> channel(HIDDEN);
WS            : [ \t\r\n\f]+ -> channel(HIDDEN);
